"""Experiments: the store (manifests, part files, the falls codec), designs and sensitivity.

Execution is :mod:`sim.executor`; batches and sweeps (:mod:`sim.batch`, :mod:`sim.sweep`) and
calibration (:mod:`sim.calibrate`) hand it their work and keep their results here.
"""
