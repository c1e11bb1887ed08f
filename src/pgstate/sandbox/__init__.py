"""The rolled-back transaction in which the server canonicalises desired fragments."""
