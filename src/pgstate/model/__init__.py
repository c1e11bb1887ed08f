"""What both sides become: names, object keys and the live facts every kind of table object shares.

Each kind's own frozen dataclasses live in its module under ``kinds/``; what is here is what several kinds use.
"""
