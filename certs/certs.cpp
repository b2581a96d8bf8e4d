#include "certs/certs.hpp"
