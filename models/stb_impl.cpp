// The single translation unit that compiles stb's implementations for the programs in models/
// (stb headers are declarations everywhere else). Only stb_image_write is needed here (pictures):
// reading images is the library's io::load_image (lib/io/image.cpp keeps its own private stb_image
// and stb_image_resize). stb_easy_font needs none: it is all static.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
