"""Names shared by the flagship model and its formula-live Excel form."""

STATES = ("progression-free", "progressed", "dead")
