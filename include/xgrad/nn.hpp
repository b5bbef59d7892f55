#pragma once
// The header's place before the library was split into layers (include/xgrad/<layer>/):
// the layers, and saving and loading their parameters.
#include "xgrad/io/parameters.hpp"
#include "xgrad/nn/layers.hpp"
