"""Generic graph and geometry code, with no military words: a compiled copy of scipy's k-d
tree (:mod:`sim.graph.kdtree`) and incrementally updated shortest-path forests
(:mod:`sim.graph.forest`)."""
