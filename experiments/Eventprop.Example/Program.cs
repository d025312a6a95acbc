using System.Globalization;
using Eventprop.Example;

// dotnet run --project experiments/Eventprop.Example -c Release [-- EPOCHS [CHECKPOINT_DIR]]
int epochs = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
LibraryExample.Run(epochs, Console.Out, args.Length > 1 ? args[1] : null);
