"""The RPA Worker: claims tasks over HTTP and runs them with handlers chosen by task type."""
