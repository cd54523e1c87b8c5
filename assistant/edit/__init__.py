"""`assist edit`: change code on request, through the same safe pipeline as `assist fix` (see README.md)."""
