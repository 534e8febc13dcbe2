"""Workers: the loop that claims and runs trials with heartbeats and signals, and the local controller (--jobs)."""
