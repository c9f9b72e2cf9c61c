"""Live operation: the replay clock (``replay``, one producer of the event contract), the stream
processor (``processor.process``) and the window state it keeps event by event (``features``)."""
