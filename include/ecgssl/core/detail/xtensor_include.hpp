#pragma once
// The one place that knows where xtensor keeps its headers: 0.24/0.25 (Debian 12) put them
// flat under <xtensor/...>, 0.26+ (vcpkg, Conan) split them into subfolders.

#if __has_include(<xtensor/containers/xtensor.hpp>)
#include <xtensor/containers/xadapt.hpp>
#include <xtensor/containers/xarray.hpp>
#include <xtensor/containers/xtensor.hpp>
#include <xtensor/io/xio.hpp>
#include <xtensor/views/xview.hpp>
#define ECGSSL_XTENSOR_SPLIT_LAYOUT 1
#else
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xio.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
#define ECGSSL_XTENSOR_SPLIT_LAYOUT 0
#endif
