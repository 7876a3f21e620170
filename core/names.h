/* How long the names and texts an operator writes may be: the INI file's
 * section names, hosts and paths, as every layer stores them. */
#ifndef GW_NAMES_H
#define GW_NAMES_H

#define CFG_NAME_MAX 64
#define CFG_TEXT_MAX 256

#endif
