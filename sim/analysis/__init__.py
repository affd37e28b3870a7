"""Analysis of the outputs of batches and sweeps: loading, tables and statistics (no figures,
no Markdown)."""
