#pragma once
// Internal: the public header says it all (kept for the io sources that include it by this name).
#include "xgrad/io/text.hpp"
