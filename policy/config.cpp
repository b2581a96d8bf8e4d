#include "policy/config.hpp"
