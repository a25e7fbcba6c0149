"""Conan 2 recipe for ecgssl (header-only).

From a checkout:  conan create packaging/conan --build=missing
The version is read from include/ecgssl/version.hpp, the one place it is written.
"""
import os
import re

from conan import ConanFile
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

_ROOT = os.path.join("..", "..")


class EcgsslConan(ConanFile):
    name = "ecgssl"
    package_type = "header-library"
    license = "MIT"
    description = ("Header-only C++20 self-supervised learning for electrocardiograms "
                   "(wav2vec 2.0 + CMSC + random lead masking)")
    topics = ("ecg", "self-supervised-learning", "deep-learning", "header-only")
    settings = "os", "arch", "compiler", "build_type"
    # with_onednn: bf16 products on oneDNN's AMX / AVX512-BF16 kernels (3.x API); without it they
    # run as float32 GEMMs of bf16-rounded operands.
    options = {"with_onednn": [True, False]}
    default_options = {"with_onednn": False}
    no_copy_source = True

    def set_version(self):
        header = load(self, os.path.join(self.recipe_folder, _ROOT, "include", "ecgssl", "version.hpp"))
        parts = [re.search(rf"#define ECGSSL_VERSION_{p} (\d+)", header).group(1)
                 for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def export_sources(self):
        root = os.path.join(self.recipe_folder, _ROOT)
        copy(self, "*", os.path.join(root, "include"), os.path.join(self.export_sources_folder, "include"))
        copy(self, "LICENSE", root, self.export_sources_folder)

    def layout(self):
        basic_layout(self, src_folder=".")

    def requirements(self):
        self.requires("eigen/3.4.0")
        self.requires("xtensor/[>=0.24.3 <0.27]")
        self.requires("nlohmann_json/[>=3.11 <4]")
        if self.options.with_onednn:
            self.requires("onednn/[>=3 <4]")

    def package_id(self):
        # Header-only: one package for every setting; with_onednn stays in the id (it changes
        # the consumers' requirements and definitions, not the files).
        self.info.settings.clear()
        self.info.requires.clear()

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"),
             os.path.join(self.package_folder, "include"))
        copy(self, "*.cuh", os.path.join(self.source_folder, "include"),
             os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "ecgssl")
        self.cpp_info.set_property("cmake_target_name", "ecgssl::ecgssl")
        self.cpp_info.set_property("pkg_config_name", "ecgssl")
        if self.options.with_onednn:
            self.cpp_info.defines = ["ECGSSL_WITH_ONEDNN"]
        # OpenMP parallelises the kernels; without it they run on one thread.
        if self.settings.compiler in ("gcc", "clang"):
            self.cpp_info.cxxflags = ["-fopenmp"]
            self.cpp_info.exelinkflags = ["-fopenmp"]
            self.cpp_info.sharedlinkflags = ["-fopenmp"]
