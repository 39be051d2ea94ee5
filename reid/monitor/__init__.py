"""Stage 2 (health_check.py): the health monitor's verdict, web app and dashboard."""
