"""Excel on both ends: the input schema, reader and template; the results workbook writer; the formula-live model."""

from hta.excel.reader import read_inputs, validate
from hta.excel.template import write_template
from hta.excel.writer import Chart, Sheet, excel_sheet_name, read_back, write_workbook

__all__ = ["Chart", "Sheet", "excel_sheet_name", "read_back", "write_workbook", "read_inputs", "validate",
           "write_template"]
