/* Start-up: global options, config and mapping load, then the subcommand.
 * main() only calls relay_app_run, so tests can run the whole app
 * in-process. */
#ifndef RELAY_RELAY_APP_H
#define RELAY_RELAY_APP_H

/* Runs syncrelay with argv; returns the process exit status. */
int relay_app_run(int argc, char **argv);

#endif
