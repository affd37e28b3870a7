"""The theatre: a graph of real settlements, fill cells and hubs, built offline and loaded fast."""
