"""The credential vault: shared passwords, press access sessions, rotation, office hours."""
