/* placeholder until daemon.c lands */
const char *dd_version(void); const char *dd_version(void) { return "0.1.0"; }
