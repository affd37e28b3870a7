"""Compiled loop kernels of the daily phases (Numba, cached on disk), one module per mechanic.

Each kernel does what a few lines of numpy around it did, in one pass and with the same
floating-point operations in the same order: only ``+ - * /``, comparisons and ``sqrt``, which
IEEE 754 rounds exactly, so results are bit-identical to the numpy expressions they replace.
Transcendental functions (``exp``, ``log``, ``**``) stay in numpy, whose SIMD versions may
round differently from the C library's that compiled code calls.

``cache=True`` keeps the machine code beside this file (``__pycache__``): a fresh process loads
it instead of compiling again.
"""
