"""Speech to text behind the ``Transcriber`` port: faster-whisper offline by
default, Deepgram when a key is configured."""
