"""`python -m thingport` is the `thingport` command."""

from thingport.cli import app

app()
