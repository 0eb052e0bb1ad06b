"""Face alignment: robust image reading, MTCNN detection, 5-point similarity warp, dataset CLI."""
