from .multi_slice_data_preprocessor import MultiSliceDetDataPreprocessor

__all__ = ['MultiSliceDetDataPreprocessor']
