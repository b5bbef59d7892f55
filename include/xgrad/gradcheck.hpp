#pragma once
// The header's place before the library was split into layers (include/xgrad/<layer>/).
#include "xgrad/check/gradcheck.hpp"
