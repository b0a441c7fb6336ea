"""The application kind (R14): a tenant member describes an application, the site generates a
versioned Chef cookbook from it (the engine in providers/cookbook/), staff review each version's
diff and checks, and only an approved version is published by the `cookbook_dir` provider.

Converging runs in the operators' Chef, not in this site.
"""
