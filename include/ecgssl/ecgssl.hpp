#pragma once
/// \file ecgssl.hpp
/// Umbrella header: everything except include/ecgssl/cuda/ (which only .cu files include).

#include "version.hpp"
#include "core/archetypes.hpp"
#include "core/backend.hpp"
#include "core/concepts.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/parameter_store.hpp"
#include "core/philox.hpp"
#include "core/tensor.hpp"
#include "core/threading.hpp"
