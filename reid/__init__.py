"""Person re-identification pipeline: tracking -> person folders -> re-ID merge -> health monitor."""

__version__ = "0.1.0"
