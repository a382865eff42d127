"""How the answer stage answers: an extractive summary and keyphrases taken
from the media itself (always), and the prompt answered by an LLM (when one is
configured)."""
