"""Stage 1 (obj_counting.py): videos -> tracked persons -> one folder of crops per track.

``videos`` reads frames; ``detector`` (the only module that imports ultralytics) tracks
persons in them; ``tracks`` keeps each track's book and ``crops`` chooses which crops to
keep; ``writer`` writes them in the background; ``annotate`` draws annotated copies;
``progress`` reports; ``run`` is the frame loop; ``stage`` runs it all for the script.
"""
