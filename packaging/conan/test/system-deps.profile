include(default)

[settings]
compiler.cppstd=20
build_type=Release

# Take the header-only dependencies from the Debian packages (libeigen3-dev, xtensor-dev,
# nlohmann-json3-dev):
# this machine reaches no Conan remote, and a user on Debian would do the same.
[platform_requires]
eigen/3.4.0
xtensor/0.24.3
nlohmann_json/3.11.2
