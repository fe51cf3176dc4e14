"""The command line and what it drives: the runner, the webserver client, services, instance."""
