"""The lint rules, one module per concern; importing this package registers every rule in ``RULES``."""

from __future__ import annotations

from . import definitions as definitions
from . import indexes as indexes
from . import plan as plan
from . import policies as policies
from . import rls as rls
