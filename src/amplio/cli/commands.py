"""Further commands register themselves on the group in main.py."""
