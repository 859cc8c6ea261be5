"""stsdesk: a desktop credential manager for AWS STS."""

__version__ = "0.1.0"
