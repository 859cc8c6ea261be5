"""`make bench`: stsdesk measured against its peers. Not tests: figures with targets, printed and recorded."""
