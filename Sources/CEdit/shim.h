// BSD libedit's readline interface (Debian's libedit-dev): line editing and history for shmkv's prompt.
#include <stdio.h>
#include <stdlib.h>
#include <editline/readline.h>
