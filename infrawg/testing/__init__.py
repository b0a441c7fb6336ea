"""Test kits shipped with infrawg, for plug-ins written outside this repository.

`infrawg.testing.provider_contract` is the contract every provider passes; a third-party
provider's own test suite subclasses it (see the README, "Adding a provider"). Importing this
package needs pytest; the site itself never imports it.
"""
