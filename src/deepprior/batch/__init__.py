"""Batch restoration of folders (``deepprior batch``), on this machine or on Ray (extra ``[ray]``).

A front end over :func:`deepprior.plan` and :func:`deepprior.run`: one Job per image, built where the image is
restored. :mod:`.items` finds the images, :mod:`.work` restores one, :mod:`.local` and :mod:`.ray_engine` map
it over them, :mod:`.manifest` records each as it ends, :mod:`.runner` ties them together.
"""

from .items import Item, find_items
from .manifest import Manifest
from .runner import Summary, run_batch

__all__ = ["Item", "find_items", "Manifest", "Summary", "run_batch"]
