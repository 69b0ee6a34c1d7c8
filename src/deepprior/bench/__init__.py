"""``deepprior bench``: the paper's tables on its images (protocols), as JSON and Markdown (tables)."""
