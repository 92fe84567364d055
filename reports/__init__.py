"""Tables, figures and report pages built from result files only."""
