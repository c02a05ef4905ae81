"""`python -m monitor`."""

from monitor.cli import cli

if __name__ == "__main__":
    cli()
