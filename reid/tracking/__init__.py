"""Stage 1 (obj_counting.py): videos -> tracked persons -> one folder of crops per track.

The modules follow the data: ``sources``, ``videos`` and ``live`` give frames; ``frames`` runs a
video's frame loop (``pipeline``, ``gate``) through the detector (``detector``, ``litert``) to the
tracks step (``after_detection``, ``tracks``, ``crops``), whose folders ``writer`` writes. ``job``
tracks one video, ``run`` all of them, here or in workers (``workers``, ``cluster``) whose
``messages`` the owner carries out (``owner``, ``pool``); ``stage`` runs it all for the script.
"""
