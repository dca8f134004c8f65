"""Response families and link functions."""

from .family import FAMILIES, Family, get_family, ordinal_loglik
from .links import LINKS, Link, get_link

__all__ = ["Family", "get_family", "ordinal_loglik", "FAMILIES", "Link", "get_link", "LINKS"]
