"""The trained demo pack: a procedural video world, its training script, a detector and the quality evaluation.

* :mod:`.world`   coloured shapes moving over a plain background, with captions in the project tokenizer's words;
* :mod:`.detect`  reads a video and reports the moving object's colour, direction and speed;
* :mod:`.models`  the demo configurations (tiny T5, STDiT3, VAE decoder) and the training-only VAE encoders;
* :mod:`.train`   trains the models (seeded, resumable) and writes the ``demo`` pack;
* :mod:`.quality` measures prompt adherence and the quality cost of LPL and TDTM (writes docs/quality.md).
"""
