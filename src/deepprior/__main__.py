"""``python -m deepprior`` runs the command line."""

from .cli import main

main()
