// The only header the CGPIOD module exposes. Kept as a shim (not an absolute path to the
// system header) so the module map works wherever pkg-config finds libgpiod.
#include <gpiod.h>
