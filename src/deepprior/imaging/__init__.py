"""Images in and out: files, masks, scores, simulated corruptions and noise estimates. Leaves of the package:
they import nothing of deepprior but its errors and operators."""
